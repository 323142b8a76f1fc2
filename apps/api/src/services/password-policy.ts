import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { PASSWORD_MIN_LENGTH } from '@crucible/contracts/api';

/**
 * zxcvbn's score 3 means "safely unguessable" against an online attack with throttling
 * (about 10^8 guesses or more); 0–2 are passwords found in breach lists, keyboard walks,
 * repeats, sequences, dates or a dictionary word with small changes.
 */
const MIN_SCORE = 3;

let estimator: Promise<ZxcvbnFactory> | undefined;

// Loaded on first use: the dictionaries are megabytes that only registration needs, so a process
// that never registers anyone (or is starting) does not pay for them.
function zxcvbn(): Promise<ZxcvbnFactory> {
  estimator ??= (async () => {
    const [{ ZxcvbnFactory }, common, en] = await Promise.all([
      import('@zxcvbn-ts/core'),
      import('@zxcvbn-ts/language-common'),
      import('@zxcvbn-ts/language-en'),
    ]);
    return new ZxcvbnFactory({
      dictionary: common.dictionary,
      graphs: common.adjacencyGraphs,
      translations: en.translations,
    });
  })();
  return estimator;
}

/**
 * Why a new password is refused, or undefined when it is acceptable. NIST SP 800-63B, 5.1.1.2:
 * at least 12 characters here, and not a commonly used, breached, repetitive or sequential value
 * (nor one made of the account's email); no composition rules (digits, symbols, case).
 */
export async function passwordProblem(password: string, context: string[] = []): Promise<string | undefined> {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) {
    return `A password needs at least ${PASSWORD_MIN_LENGTH} characters (this one has ${length}); a few unrelated words make a good one.`;
  }
  const result = await (await zxcvbn()).check(password, context);
  if (result.score >= MIN_SCORE) return undefined;
  const why = result.feedback.warning ?? 'It is made of common words or patterns that are guessed early.';
  return `This password is too easy to guess: ${why} Choose another; a few unrelated words make a good one.`;
}
