export function ProgressBar({ value, stage, label }: { value: number; stage: string; label: string }) {
  return (
    <div class="progress">
      <div class="progress-head">
        <span id="progress-label">{label}</span>
        <span>{value}%</span>
      </div>
      <progress aria-labelledby="progress-label" max={100} value={value} />
      <p class="stage" aria-live="polite" data-testid="stage">
        {stage}
      </p>
    </div>
  );
}
