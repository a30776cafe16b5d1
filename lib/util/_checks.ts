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

/**
 * Returns `options` when it is an object whose every key is in `known`; otherwise throws,
 * naming `where`, the unknown key (with the known key it most likely meant) and the known
 * keys, so a misspelt option (`{ lr }` for `{ learningRate }`) is never silently ignored.
 */
export function checkedOptions<T>(where: string, options: T, known: readonly string[]): T {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${where}: options are required (an object with ${known.join(", ")}), got ${options}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const meant = known.find((k) => k.toLowerCase().startsWith(key.toLowerCase().slice(0, 1)));
      const hint = meant === undefined ? "" : ` (did you mean ${meant}?)`;
      throw new TypeError(
        `${where}: unknown option ${JSON.stringify(key)}${hint}; known options: ` +
          known.join(", "),
      );
    }
  }
  return options;
}

/** Throws, naming `where`, when `parameters` is an empty list: there would be nothing to train. */
export function checkedNonEmpty<T>(where: string, parameters: readonly T[]): readonly T[] {
  if (Array.isArray(parameters) && parameters.length === 0) {
    throw new RangeError(
      `${where}: no parameters to train (an empty list); pass e.g. model.parameters()`,
    );
  }
  return parameters;
}
