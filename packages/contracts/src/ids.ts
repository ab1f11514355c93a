declare const brand: unique symbol;

/** A nominal type: a `number` that the compiler will not confuse with another kind of number. */
export type Brand<T, Name extends string> = T & { readonly [brand]: Name };

/** A token id in a model's vocabulary. */
export type Token = Brand<number, 'Token'>;
/** A sequence id: one stream of tokens with its own KV cache. */
export type SeqId = Brand<number, 'SeqId'>;
/** A KV-cache block id, an index into the block pool. */
export type BlockId = Brand<number, 'BlockId'>;

export const asToken = (n: number): Token => n as Token;
export const asSeqId = (n: number): SeqId => n as SeqId;
export const asBlockId = (n: number): BlockId => n as BlockId;
