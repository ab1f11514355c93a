export {
  type ChatMessage,
  FALLBACK_CHAT_TEMPLATE,
  type RenderChatOptions,
  renderChat,
} from './render-chat.js';
