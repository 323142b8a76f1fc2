# Prints, for every failed vitest test in a turbo log, its "FAIL" line and the next lines of the
# same package (the error and where it was thrown). Lanes run side by side, so a package's lines
# are interleaved with another's: each package is followed on its own prefix.
{
  prefix = $0
  sub(/:test:.*/, "", prefix)
  if (prefix == $0) next
  if ($0 ~ /:test: +FAIL +/ || $0 ~ /:test: .*Unhandled (Error|Rejection)/) { left[prefix] = 14; shown++ }
  if (left[prefix] > 0) { print; left[prefix]-- }
}
END { if (shown > 40) print "(" shown " failures in all)" }
