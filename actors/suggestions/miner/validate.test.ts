import { describe, expect, test } from "bun:test";
import { validateAutomation, validateAutomationYaml } from "./validate.ts";

const good = {
  alias: "Hallway light",
  description: "",
  triggers: [{ trigger: "state", entity_id: "binary_sensor.front_door", to: "on" }],
  conditions: [{ condition: "time", weekday: ["mon"] }],
  actions: [{ action: "light.turn_on", target: { entity_id: "light.hallway" } }],
  mode: "single",
};

describe("validateAutomation", () => {
  test("accepts current syntax and the older trigger/platform/service syntax", () => {
    expect(validateAutomation(good)).toEqual([]);
    expect(
      validateAutomation({
        alias: "old",
        trigger: [{ platform: "time", at: "07:00" }],
        condition: [],
        action: [{ service: "light.turn_on", target: { entity_id: ["light.a", "light.b"] } }],
      }),
    ).toEqual([]);
  });

  test("names the field and the fix for each structural mistake", () => {
    expect(validateAutomation({ ...good, triggers: [] })).toEqual([
      "triggers: at least one trigger is required",
    ]);
    expect(validateAutomation({ ...good, actions: undefined })).toEqual([
      "actions: at least one action is required",
    ]);
    expect(validateAutomation({ ...good, triggers: [{ entity_id: "light.a" }] })).toEqual([
      'triggers[0]: missing "trigger" (the trigger platform, e.g. state or time)',
    ]);
    expect(validateAutomation({ ...good, triggers: [{ trigger: "time", at: "7 am" }] })).toEqual([
      'triggers[0].at: expected a time "HH:MM:SS" or an input_datetime/sensor entity',
    ]);
    expect(
      validateAutomation({ ...good, triggers: [{ trigger: "numeric_state", entity_id: "sensor.t" }] }),
    ).toEqual(['triggers[0]: numeric_state needs "above" or "below"']);
    expect(validateAutomation({ ...good, conditions: [{ condition: "time", weekday: ["monday"] }] })).toEqual(
      ["conditions[0].weekday: expected days from mon, tue, wed, thu, fri, sat, sun"],
    );
    expect(
      validateAutomation({ ...good, actions: [{ action: "turn_on", target: { entity_id: "light.a" } }] }),
    ).toEqual(['actions[0].action: expected "domain.service", got "turn_on"']);
    expect(
      validateAutomation({
        ...good,
        actions: [{ action: "light.turn_on", target: { entity_id: "Hallway" } }],
      }),
    ).toEqual(["actions[0].target.entity_id: expected entity id(s)"]);
    expect(validateAutomation({ ...good, mode: "sometimes" })).toEqual([
      "mode: expected single, restart, queued or parallel",
    ]);
  });

  test("reads YAML as Home Assistant does (1.1): unquoted on and 17:30:00 are not strings there", () => {
    const text =
      "- triggers:\n    - trigger: state\n      entity_id: binary_sensor.door\n      to: on\n    - trigger: time\n      at: 17:30:00\n  actions:\n    - action: light.turn_on\n";
    expect(validateAutomationYaml(text)).toEqual({
      ok: false,
      errors: [
        'automation 0: triggers[0].to: expected a state string (quote "on"/"off": YAML 1.1 reads them as booleans)',
        'automation 0: triggers[1].at: expected a time "HH:MM:SS" or an input_datetime/sensor entity',
      ],
    });
  });

  test("reports YAML syntax errors and indexes problems per automation", () => {
    expect(validateAutomationYaml("- alias: [unclosed")).toMatchObject({ ok: false });
    const result = validateAutomationYaml("- alias: a\n  triggers: []\n  actions: []\n");
    expect(result).toEqual({
      ok: false,
      errors: [
        "automation 0: triggers: at least one trigger is required",
        "automation 0: actions: at least one action is required",
      ],
    });
  });
});
