import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/**
 * A secret the server shows once (an API key, an invitation link): what it is, the value, a copy
 * button that says when it copied, and Done to put it away for good.
 */
export function OneTimeSecret(props: {
  value: string;
  testId: string;
  copyLabel: string;
  onDone: () => void;
  children: ComponentChildren;
}) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(props.value);
    setCopied(true);
  };
  return (
    <div class="notice" role="status">
      <p>{props.children}</p>
      <p class="secret">
        <code data-testid={props.testId}>{props.value}</code>{' '}
        <button type="button" onClick={copy}>
          {copied ? 'Copied' : props.copyLabel}
        </button>{' '}
        <button type="button" class="secondary" onClick={props.onDone}>
          Done
        </button>
      </p>
    </div>
  );
}
