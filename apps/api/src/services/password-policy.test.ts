import { describe, expect, it } from 'vitest';
import { passwordProblem } from './password-policy.js';

describe('passwordProblem', () => {
  it('refuses fewer than 12 characters, counting characters rather than UTF-16 units', async () => {
    expect(await passwordProblem('aaaaaaaa')).toBe(
      'A password needs at least 12 characters (this one has 8); a few unrelated words make a good one.',
    );
    expect(await passwordProblem('😀'.repeat(11))).toBe(
      'A password needs at least 12 characters (this one has 11); a few unrelated words make a good one.',
    );
  });

  it('refuses long but common, repeated or sequential passwords, saying which', async () => {
    expect(await passwordProblem('password1234')).toBe(
      'This password is too easy to guess: This is similar to a commonly used password. Choose another; a few unrelated words make a good one.',
    );
    expect(await passwordProblem('aaaaaaaaaaaa')).toBe(
      'This password is too easy to guess: Repeated characters like "aaa" are easy to guess. Choose another; a few unrelated words make a good one.',
    );
    expect(await passwordProblem('abcdefghijklmn')).toBe(
      'This password is too easy to guess: Common character sequences like "abc" are easy to guess. Choose another; a few unrelated words make a good one.',
    );
  });

  it("refuses the account's own email as its password", async () => {
    expect(await passwordProblem('ada.lovelace@example.com', ['ada.lovelace@example.com'])).toMatch(
      /^This password is too easy to guess: /,
    );
  });

  it('accepts a passphrase with no digits, symbols or capitals', async () => {
    expect(await passwordProblem('correct horse battery')).toBeUndefined();
    expect(await passwordProblem('a long enough password')).toBeUndefined();
  });
});
