// @ts-check
/**
 * Reading a request's payload in a dialog. The server built it, but a dialog must still
 * open on a value it does not expect (a hand-made request, a newer or older server): each
 * reader gives something the dialog can use, never NaN or a negative count.
 */

/**
 * A whole number from a payload, at least `least`: `fallback` when the value is missing,
 * zero or not a number.
 * @param {unknown} value
 * @param {number} least
 * @param {number} [fallback]
 */
export function wholeNumber(value, least, fallback = least) {
  return Math.max(least, Math.floor(Number(value) || fallback));
}
