/**
 * Axes of the stress charts, computed here rather than left to uPlot's defaults, which gave a
 * 2-second run ticks at 0.5 s, a flat series a single y label, and y labels wider than the space
 * reserved for them (so they ran into the axis title).
 */

/** Steps a seconds axis may take: whole seconds, then round numbers of seconds and minutes. */
const SECOND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600] as const;

/** Ticks of the seconds axis from `min` to `max`: whole seconds, at most `maxTicks` of them. */
export function secondTicks(min: number, max: number, maxTicks: number): number[] {
  const from = Math.floor(Math.max(0, min));
  const to = Math.max(from + 1, Math.ceil(max));
  const step =
    SECOND_STEPS.find((s) => Math.floor(to / s) - Math.ceil(from / s) + 1 <= Math.max(2, maxTicks)) ??
    SECOND_STEPS.at(-1)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

/** The seconds axis spans whole seconds, and at least one second, so a lone point is not alone. */
export function secondRange(min: number | null, max: number | null): [number, number] {
  const from = Math.floor(Math.max(0, min ?? 0));
  return [from, Math.max(from + 1, Math.ceil(max ?? 0))];
}

/** 1, 2, 2.5 or 5 times a power of ten: the smallest such step of at least `raw`. */
function niceStep(raw: number, integer: boolean): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw - 1e-9)!;
  return integer ? Math.max(1, Math.ceil(step)) : step;
}

/**
 * A value axis from 0 to a round maximum at or above `max`, in `intervals` equal steps (so always
 * `intervals + 1` labels, even for a series that is flat or all zero). `integer`: the values are
 * counts, so the steps are whole numbers.
 */
export function valueScale(max: number, intervals = 4, integer = false): { max: number; ticks: number[] } {
  const top = Number.isFinite(max) && max > 0 ? max : integer ? intervals : 1;
  const step = niceStep(top / intervals, integer);
  const ticks = Array.from({ length: intervals + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  return { max: ticks.at(-1)!, ticks };
}

/** A tick's label: no more decimals than the step between ticks needs. */
export function tickLabel(value: number, step: number): string {
  const decimals = String(Number(step.toPrecision(6))).split('.')[1]?.length ?? 0;
  return value.toFixed(Math.min(3, decimals));
}

/** Width in CSS pixels of one digit of the axis font (uPlot's default, 12px system-ui). */
export const DIGIT_WIDTH_PX = 7.5;
/** Tick length and the gap between tick and label, as uPlot draws them. */
const TICK_AND_GAP_PX = 10 + 5;

/**
 * Width of a y axis's value area: room for its longest label, so the values never reach the
 * axis title, which uPlot places just outside this area.
 */
export function yAxisSize(labels: readonly (string | null)[] | null): number {
  const longest = Math.max(1, ...(labels ?? []).map((l) => (l ?? '').length));
  return Math.ceil(TICK_AND_GAP_PX + longest * DIGIT_WIDTH_PX + 4);
}
