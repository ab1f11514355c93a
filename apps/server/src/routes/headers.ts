/** Set when max_tokens did not fit the context and was lowered: `<requested>-><used>`. */
export const MAX_TOKENS_CLAMPED_HEADER = 'x-ternion-max-tokens-clamped';
