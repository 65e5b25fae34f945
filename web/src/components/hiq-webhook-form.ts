/**
 * Creates a webhook rule: a name, the target URL, and one trigger — a state change (entity or domain,
 * optionally a `to` state or a numeric threshold) or an enrichment value crossing a threshold.
 * The API checks the rule and answers precisely what is wrong; that answer is shown as it is.
 */
import { css, html, LitElement } from "lit";
import { customElement, state } from "lit/decorators.js";
import type { WebhookInput } from "../api.ts";
import { createWebhook } from "../stores/webhooks.ts";
import { shared } from "../styles.ts";

type Kind = "state" | "enrichment";

/** A number field's value, or undefined when empty. */
function optionalNumber(form: FormData, name: string): number | undefined {
  const v = String(form.get(name) ?? "").trim();
  return v === "" ? undefined : Number(v);
}

function optionalText(form: FormData, name: string): string | undefined {
  const v = String(form.get(name) ?? "").trim();
  return v === "" ? undefined : v;
}

@customElement("hiq-webhook-form")
export class HiqWebhookForm extends LitElement {
  @state() private _kind: Kind = "state";

  override render() {
    return html`<form class="card" @submit=${this._submit} aria-labelledby="new-webhook">
      <h2 id="new-webhook">New webhook</h2>
      <div class="fields">
        <label class="field"
          >Name <input name="name" required maxlength="200" placeholder="hot office" autocomplete="off"
        /></label>
        <label class="field wide"
          >URL
          <input
            name="url"
            type="url"
            required
            placeholder="http://homeassistant.local:8123/api/webhook/…"
            autocomplete="off"
        /></label>
        <label class="field"
          >Trigger
          <select
            name="kind"
            @change=${(e: Event) => (this._kind = (e.target as HTMLSelectElement).value as Kind)}
          >
            <option value="state">State change</option>
            <option value="enrichment">Enrichment value</option>
          </select>
        </label>
        ${
          this._kind === "state"
            ? html`<label class="field"
                >Entity (glob) <input name="entity" placeholder="sensor.office_*" autocomplete="off"
              /></label>
              <label class="field">Domain <input name="domain" placeholder="light" autocomplete="off" /></label>
              <label class="field">To state <input name="to" placeholder="on" autocomplete="off" /></label>`
            : html`<label class="field">Source <input name="source" required placeholder="carbon" /></label>
              <label class="field">Metric <input name="metric" required placeholder="intensity" /></label>`
        }
        <label class="field">Above <input name="above" type="number" step="any" /></label>
        <label class="field">Below <input name="below" type="number" step="any" /></label>
      </div>
      <div class="actions"><button class="primary" type="submit">Create webhook</button></div>
    </form>`;
  }

  private async _submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const threshold = { above: optionalNumber(data, "above"), below: optionalNumber(data, "below") };
    const when: WebhookInput["when"] =
      this._kind === "state"
        ? {
            kind: "state",
            entity: optionalText(data, "entity"),
            domain: optionalText(data, "domain"),
            to: optionalText(data, "to"),
            ...threshold,
          }
        : {
            kind: "enrichment",
            source: String(data.get("source") ?? "").trim(),
            metric: String(data.get("metric") ?? "").trim(),
            ...threshold,
          };
    // Absent fields must be absent, not undefined-valued (the API rejects unknown or empty fields).
    const clean = Object.fromEntries(
      Object.entries(when).filter(([, v]) => v !== undefined),
    ) as WebhookInput["when"];
    const ok = await createWebhook({
      name: String(data.get("name") ?? "").trim(),
      url: String(data.get("url") ?? "").trim(),
      when: clean,
    });
    if (ok) form.reset();
  }

  static override styles = [
    shared,
    css`
      form {
        display: flex;
        flex-direction: column;
        gap: 0.6rem;
      }
      .fields {
        display: grid;
        grid-template-columns: repeat(auto-fill, minmax(min(11rem, 100%), 1fr));
        gap: 0.5rem;
      }
      .wide {
        grid-column: span 2;
      }
      @media (max-width: 480px) {
        .wide {
          grid-column: auto;
        }
      }
      .actions {
        display: flex;
        justify-content: flex-end;
      }
    `,
  ];
}

declare global {
  interface HTMLElementTagNameMap {
    "hiq-webhook-form": HiqWebhookForm;
  }
}
