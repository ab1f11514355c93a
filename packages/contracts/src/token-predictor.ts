import type { Token } from './ids.js';

/**
 * Proposes draft tokens for speculative decoding. Using a predictor never changes the output: the target
 * model verifies every draft token.
 */
export interface TokenPredictor {
  readonly specificationVersion: 'v1';
  /** Up to `maxTokens` guesses of what follows `context`. */
  predict(context: readonly Token[], maxTokens: number): Promise<readonly Token[]> | readonly Token[];
  /** Told which tokens were accepted, so stateful predictors can update. */
  accept?(tokens: readonly Token[]): void;
  dispose?(): void;
}
