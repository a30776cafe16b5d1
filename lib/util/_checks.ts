/**
 * Argument checks shared by more than one layer.
 *
 * @module
 */

/** Returns `learningRate` when it is a finite number > 0; otherwise throws, naming `where`. */
export function checkedLearningRate(where: string, learningRate: number): number {
  if (typeof learningRate !== "number" || !(learningRate > 0 && learningRate < Infinity)) {
    throw new RangeError(
      `${where}: learning rate must be a finite number > 0, got ${learningRate}`,
    );
  }
  return learningRate;
}
