/**
 * The numerical derivative both gradient checkers use: central differences at three
 * half-widths, h, h/2 and h/4, combined by Richardson extrapolation, with an error bound
 * computed from the same evaluations.
 *
 * A central difference `D(h) = (f(x + h) − f(x − h)) / 2h` of a smooth `f` equals
 * `f'(x) + c₂h² + c₄h⁴ + …`. Two rounds of Richardson extrapolation cancel the h² and h⁴ terms:
 *
 *     R₁ = (4·D(h/2) − D(h)) / 3        R₂ = (4·D(h/4) − D(h/2)) / 3      (error O(h⁴))
 *     S  = (16·R₂ − R₁) / 15 = (64·D(h/4) − 20·D(h/2) + D(h)) / 45      (error O(h⁶))
 *
 * With h = 10⁻³ (relative to the input's magnitude) the truncation error of `S` is about
 * 10⁻¹⁸·f⁽⁷⁾ and its rounding error about 10⁻¹²·|f|, so the derivative of a smooth op is good
 * to ~1e-10 relative, a thousand times finer than PyTorch's single difference with h = 10⁻⁶.
 *
 * The allowance is computed, not chosen: `2·|S − R₂|` bounds the truncation error (R₂ is the
 * less accurate of the two, so where the expansion holds their gap exceeds S's own error;
 * near a kink or a pole the expansion breaks down, the levels disagree and the gap grows with
 * them), plus the rounding bound of the evaluations themselves.
 */

/** What one central difference measured. */
export interface CentralDifference {
  /** `f(x + h) − f(x − h)`. */
  readonly delta: number;
  /** `(x + h) − (x − h)` as actually computed (x ± h is rounded). */
  readonly width: number;
  /** Magnitude of the values subtracted, for the rounding bound (`max |f(x ± h)|`). */
  readonly magnitude: number;
}

/** A numerical derivative and how far it may be from the true one. */
export interface DerivativeEstimate {
  /** The extrapolated derivative `S`. */
  readonly value: number;
  /** Computed bound on `|S − f'(x)|`: truncation estimate plus rounding bound. */
  readonly allowance: number;
}

/**
 * Each evaluation of `f` is assumed accurate to this many units in the last place of its
 * magnitude (an op is a few roundings; a reduction of dozens of terms, a few more).
 */
const EVALUATION_ULPS = 32;

/**
 * How much the extrapolation amplifies the rounding error of one difference at h: the
 * weights of S are 64/45, 20/45 and 1/45 on differences whose rounding error grows as 1/h,
 * so (64·4 + 20·2 + 1)/45 = 297/45.
 */
const ROUNDING_GAIN = 297 / 45;

/**
 * The extrapolated central-difference derivative. `difference(h)` evaluates `f(x ± h)`
 * (h > 0, the half-width) and says what it measured.
 */
export function extrapolatedDerivative(
  difference: (halfWidth: number) => CentralDifference,
  halfWidth: number,
): DerivativeEstimate {
  const coarse = difference(halfWidth);
  const middle = difference(halfWidth / 2);
  const fine = difference(halfWidth / 4);
  const d1 = coarse.delta / coarse.width;
  const d2 = middle.delta / middle.width;
  const d3 = fine.delta / fine.width;
  const r1 = (4 * d2 - d1) / 3;
  const r2 = (4 * d3 - d2) / 3;
  const s = (16 * r2 - r1) / 15;
  const magnitude = Math.max(coarse.magnitude, middle.magnitude, fine.magnitude);
  const rounding = ROUNDING_GAIN * EVALUATION_ULPS * Number.EPSILON * magnitude /
    coarse.width;
  return { value: s, allowance: 2 * Math.abs(s - r2) + rounding };
}

/**
 * The coarsest half-width for an input of value `x`: `step` relative to the input's
 * magnitude, but never below `step` itself (an input at or near 0 has no magnitude to scale by).
 */
export function halfWidthFor(x: number, step: number): number {
  return step * Math.max(1, Math.abs(x));
}
