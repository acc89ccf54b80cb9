import { describe, expect, it } from "vitest";
import * as z from "zod";
import {
  NodeSchema,
  ParamSchema,
  PipelineSchema,
  ProjectFileSchema,
  RetriesSchema,
  checkWebhook,
} from "./schema.js";

describe("schemas", () => {
  it("turn into JSON Schema for the OpenAPI document", () => {
    const schema = z.toJSONSchema(ProjectFileSchema()) as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(schema.properties)).toEqual(["version", "defaults", "pools", "steps", "pipelines"]);
    expect(schema.required).toEqual(["version"]);
    expect(schema.additionalProperties).toBe(false);
    expect(() => z.toJSONSchema(PipelineSchema())).not.toThrow();
  });

  it("accept the shorthands", () => {
    expect(ParamSchema().safeParse(0.1).success).toBe(true);
    expect(ParamSchema().safeParse([1, 2]).success).toBe(true);
    expect(ParamSchema().safeParse(null).success).toBe(true);
    expect(RetriesSchema().safeParse(2).success).toBe(true);
    expect(RetriesSchema().safeParse({ limit: 2, backoff: "10s" }).success).toBe(true);
    expect(NodeSchema().safeParse({ run: "x", needs: "a" }).success).toBe(true);
    expect(NodeSchema().safeParse({ run: "x", needs: { a: "always" } }).success).toBe(true);
  });

  it("reject what the file format does not allow", () => {
    expect(RetriesSchema().safeParse(-1).success).toBe(false);
    expect(RetriesSchema().safeParse({ limit: 1, backoff: "soon" }).success).toBe(false);
    expect(NodeSchema().safeParse({ run: "x", needs: { a: "sometimes" } }).success).toBe(false);
    expect(NodeSchema().safeParse({ run: "x", neds: [] }).success).toBe(false);
    expect(ProjectFileSchema().safeParse({ version: 2 }).success).toBe(false);
  });
});

describe("checkWebhook", () => {
  it.each([
    "http://127.0.0.1:9000/hook",
    "https://localhost/x",
    "http://[::1]:8080/",
    "https://hooks.slack.com/services/T0/B0/X",
    "http://10.0.0.1/hook",
  ])("accepts %s", (url) => {
    expect(checkWebhook(url)).toBeUndefined();
  });

  it("rejects other schemes and non-URLs", () => {
    expect(checkWebhook("ftp://127.0.0.1/x")).toBe(
      'webhook "ftp://127.0.0.1/x" must be an http:// or https:// URL',
    );
    expect(checkWebhook("localhost:9000")).toBe(
      'webhook "localhost:9000" must be an http:// or https:// URL',
    );
    expect(checkWebhook("not a url")).toBe('invalid URL "not a url"');
  });
});
