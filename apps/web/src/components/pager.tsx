/** Previous and Next: the list pages by cursor, and remembers the cursors it came through. */
export function Pager({
  cursor,
  nextCursor,
  history,
  setQuery,
}: {
  cursor: string | undefined;
  nextCursor: string | null;
  history: { current: string[] };
  setQuery: (changes: Record<string, string | undefined>, keepCursor: boolean) => void;
}) {
  return (
    <nav class="pager" aria-label="Pages">
      {cursor && (
        <button
          type="button"
          class="secondary"
          onClick={() => setQuery({ cursor: history.current.pop() || undefined }, true)}
        >
          Previous
        </button>
      )}
      {nextCursor && (
        <button
          type="button"
          class="secondary"
          onClick={() => {
            history.current.push(cursor ?? '');
            setQuery({ cursor: nextCursor }, true);
          }}
        >
          Next
        </button>
      )}
    </nav>
  );
}
