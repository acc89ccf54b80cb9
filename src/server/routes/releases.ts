/** Releases: what `release:` nodes kept, by name and version, and their files to download. */
import path from "node:path";
import * as z from "zod";
import type { ServerContext } from "../context.js";
import { notFound } from "../http-errors.js";
import { openLog } from "../log-stream.js";
import { type ApiRoute, defineRoute } from "../route.js";
import { attachment } from "./files.js";

const iso = (ms: number) => new Date(ms).toISOString();

const ReleaseFileSchema = z.object({
  path: z.string(),
  size: z.number().int(),
  sha256: z.string(),
  url: z.string().describe("Where to download it (needs the token)."),
});

export const ReleaseSummarySchema = z.object({
  name: z.string(),
  latestVersion: z.number().int(),
  versions: z.number().int(),
  createdAt: z.string().describe("When the latest version was made."),
  run: z.string().describe("The run that made the latest version."),
  task: z.string().describe("The task (of its release: node) that made it."),
});

export const ReleaseVersionSchema = z.object({
  version: z.number().int(),
  createdAt: z.string(),
  run: z.string(),
  task: z.string(),
  files: z.array(ReleaseFileSchema),
});

const NameParamsSchema = z.strictObject({ name: z.string().min(1).max(200) });
const FileParamsSchema = z.strictObject({
  name: z.string().min(1).max(200),
  version: z.coerce.number().int().min(1),
  "*": z.string().min(1).describe("The file's path within the release."),
});

/** Content types for common file kinds; anything else downloads as bytes. */
const CONTENT_TYPES: Record<string, string> = {
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gz": "application/gzip",
  ".zip": "application/zip",
  ".tar": "application/x-tar",
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

function fileUrl(name: string, version: number, file: string): string {
  const rel = file.split("/").map(encodeURIComponent).join("/");
  return `/api/v1/releases/${encodeURIComponent(name)}/${version}/files/${rel}`;
}

export function releaseRoutes(ctx: ServerContext): ApiRoute[] {
  return [
    defineRoute({
      method: "GET",
      path: "/releases",
      tag: "releases",
      summary: "Releases kept by release: nodes, each with its latest version",
      responses: {
        200: {
          description: "Releases by name.",
          schema: z.object({ releases: z.array(ReleaseSummarySchema) }),
        },
      },
      async handle() {
        const releases = await ctx.store.listReleases();
        return {
          releases: releases.map((r) => ({
            name: r.name,
            latestVersion: r.latestVersion,
            versions: r.versions,
            createdAt: iso(r.createdAt),
            run: r.runId,
            task: r.taskId,
          })),
        };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/releases/:name",
      tag: "releases",
      summary: "The versions of a release, newest first, with their files",
      params: NameParamsSchema,
      responses: {
        200: {
          description: "The release's versions.",
          schema: z.object({ name: z.string(), versions: z.array(ReleaseVersionSchema) }),
        },
        404: { description: "No release of that name." },
      },
      async handle({ params }) {
        const versions = await ctx.store.getReleaseVersions(params.name);
        if (versions.length === 0) throw notFound(`no release "${params.name}"`);
        return {
          name: params.name,
          versions: versions.map((v) => ({
            version: v.version,
            createdAt: iso(v.createdAt),
            run: v.runId,
            task: v.taskId,
            files: v.files.map((f) => ({ ...f, url: fileUrl(params.name, v.version, f.path) })),
          })),
        };
      },
    }),

    defineRoute({
      method: "GET",
      path: "/releases/:name/:version/files/*",
      tag: "releases",
      summary: "Download a file of a release version",
      params: FileParamsSchema,
      responses: {
        200: { description: "The file's bytes, as an attachment.", contentType: "application/octet-stream" },
        404: { description: "No such release, version or file." },
      },
      async handle({ params, reply }) {
        const file = params["*"];
        const versions = await ctx.store.getReleaseVersions(params.name);
        if (versions.length === 0) throw notFound(`no release "${params.name}"`);
        const version = versions.find((v) => v.version === params.version);
        if (!version) {
          throw notFound(
            `release "${params.name}" has no version ${params.version} (latest: ${versions[0]!.version})`,
          );
        }
        const entry = version.files.find((f) => f.path === file);
        if (!entry) {
          const known = version.files.map((f) => f.path).join(", ");
          throw notFound(
            `release "${params.name}" version ${params.version} has no file "${file}" (files: ${known})`,
          );
        }
        const opened = await openLog(ctx.engine.cas.pathOf(entry.sha256));
        if (!opened) throw notFound(`the content of "${file}" is missing from the content store`);
        reply.headers({
          etag: `"${entry.sha256}"`,
          "content-disposition": attachment(file),
          "x-content-type-options": "nosniff",
        });
        reply.type(contentTypeOf(file)).header("content-length", opened.size);
        if (opened.size === 0) {
          await opened.handle.close();
          return reply.send(Buffer.alloc(0));
        }
        return reply.send(opened.handle.createReadStream({ start: 0, end: opened.size - 1 }));
      },
    }),
  ];
}
