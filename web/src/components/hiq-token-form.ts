/**
 * Asks for the API bearer token once; it is remembered in this browser (localStorage).
 * Shown again, with the reason, when the API rejects the saved token.
 */
import { StoreController } from "@nanostores/lit";
import { css, html, LitElement } from "lit";
import { customElement, state } from "lit/decorators.js";
import { $token, setToken } from "../stores/token.ts";
import { shared } from "../styles.ts";

@customElement("hiq-token-form")
export class HiqTokenForm extends LitElement {
  private _token = new StoreController(this, $token);
  @state() private _value = "";

  override render() {
    const rejected = this._token.value.rejected;
    return html`<form class="card" @submit=${this._submit} aria-labelledby="token-title">
      <h2 id="token-title">Connect to HomeIQ</h2>
      <p class="muted">
        Enter the API token: the contents of <code>api-token</code> in HomeIQ's data directory (its path is
        printed at start), or the value of <code>HOMEIQ_API_TOKEN</code>. This browser remembers it.
      </p>
      ${rejected ? html`<p class="error" role="alert">The saved token was rejected. Enter the current one.</p>` : ""}
      <label class="field" for="token">API token</label>
      <div class="row">
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          .value=${this._value}
          @input=${(e: Event) => (this._value = (e.target as HTMLInputElement).value)}
        />
        <button class="primary" type="submit" ?disabled=${this._value.trim() === ""}>Connect</button>
      </div>
    </form>`;
  }

  private _submit(e: Event): void {
    e.preventDefault();
    if (this._value.trim() !== "") setToken(this._value);
  }

  static override styles = [
    shared,
    css`
      :host {
        display: block;
        max-width: 32rem;
        margin: 2rem auto;
      }
      form {
        display: flex;
        flex-direction: column;
        gap: 0.6rem;
      }
      p {
        margin: 0;
        line-height: 1.45;
      }
      .row {
        display: flex;
        gap: 0.5rem;
      }
      .row input {
        flex: 1;
      }
      .error {
        color: var(--hiq-bad, #cf222e);
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-token-form": HiqTokenForm;
  }
}
