/** Styles shared by the dashboard's components: controls, cards and text helpers. */
import { css } from "lit";

export const shared = css`
  :host {
    box-sizing: border-box;
  }
  *,
  *::before,
  *::after {
    box-sizing: inherit;
  }
  h1,
  h2,
  h3 {
    margin: 0;
    font-weight: 600;
  }
  h2 {
    font-size: 1.15rem;
  }
  h3 {
    font-size: 0.95rem;
  }
  .card {
    background: var(--hiq-surface, #fff);
    border: 1px solid var(--hiq-border, #d8dce2);
    border-radius: var(--hiq-radius, 8px);
    padding: 0.9rem 1rem;
  }
  .muted {
    color: var(--hiq-muted, #5b6470);
  }
  .mono {
    font-family: var(--hiq-mono, monospace);
  }
  .toolbar {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem;
    align-items: end;
  }
  label.field {
    display: flex;
    flex-direction: column;
    gap: 0.2rem;
    font-size: 0.8rem;
    color: var(--hiq-muted, #5b6470);
  }
  input,
  select,
  button {
    font: inherit;
    font-size: 0.9rem;
    color: var(--hiq-text, #1b1f24);
    background: var(--hiq-surface, #fff);
    border: 1px solid var(--hiq-border, #d8dce2);
    border-radius: 6px;
    padding: 0.4rem 0.6rem;
    min-height: 2.1rem;
  }
  input[type="search"],
  input[type="text"],
  input[type="password"] {
    min-width: 0;
  }
  button {
    cursor: pointer;
    background: var(--hiq-surface-2, #eef0f3);
  }
  button.primary {
    background: var(--hiq-accent, #1f6feb);
    border-color: var(--hiq-accent, #1f6feb);
    color: var(--hiq-accent-text, #fff);
  }
  button:disabled {
    opacity: 0.6;
    cursor: default;
  }
  :is(input, select, button, a):focus-visible {
    outline: 2px solid var(--hiq-focus, #1f6feb);
    outline-offset: 2px;
  }
  a {
    color: var(--hiq-accent, #1f6feb);
  }
  .sr-only {
    position: absolute;
    width: 1px;
    height: 1px;
    overflow: hidden;
    clip: rect(0 0 0 0);
    white-space: nowrap;
  }
`;
