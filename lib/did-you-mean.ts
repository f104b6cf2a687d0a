/**
 * The name someone probably meant when they wrote one that does not exist: the nearest
 * by edit distance (case aside), if it is near enough to be a slip of the keyboard or
 * of memory (`interface` for `interfaces`), and none otherwise.
 */
import { closest, distance } from 'fastest-levenshtein';

export function didYouMean(word: string, names: readonly string[]): string | undefined {
  if (names.length === 0) return undefined;
  const lower = names.map((n) => n.toLowerCase());
  const best = closest(word.toLowerCase(), lower);
  // A third of the word may be wrong; a short word, two letters.
  const near = distance(word.toLowerCase(), best) <= Math.max(2, Math.floor(word.length / 3));
  return near ? names[lower.indexOf(best)] : undefined;
}
