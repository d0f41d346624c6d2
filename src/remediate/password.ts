// Strong random passwords for the reset step: 20 characters from a 70-symbol alphabet (≈122 bits),
// at least one of each class Entra's complexity rule counts. Generated in memory, shown once, never stored.
import { randomInt } from 'node:crypto';

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '!#%+-=?@^_*$';
const ALL = UPPER + LOWER + DIGITS + SYMBOLS;

export function generatePassword(length = 20): string {
  const chars = [UPPER, LOWER, DIGITS, SYMBOLS].map((set) => set[randomInt(set.length)]);
  while (chars.length < length) chars.push(ALL[randomInt(ALL.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}
