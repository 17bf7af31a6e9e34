// A small client over the types openapi-typescript generates from
// api/openapi.json. scripts/api-clients.sh writes them to ./baton-api.ts
// next to this file and type-checks both with tsc --strict --noEmit: the
// types a TypeScript client writer gets must be the API's real ones, which
// the checks at the end pin down (a wrong one fails tsc).
import type { components, operations } from "./baton-api";

export type Task = components["schemas"]["Task"];
export type TaskStatus = Task["status"];
export type Problem = components["schemas"]["Problem"];
export type SubmitBody = operations["tasks.submit"]["requestBody"]["content"]["application/json"];
type ListQuery = NonNullable<operations["tasks.list"]["parameters"]["query"]>;
type UsageQuery = NonNullable<operations["usage.series"]["parameters"]["query"]>;

/** The JSON body of operation Op's response with status S. */
type Body<Op extends keyof operations, S extends keyof operations[Op]["responses"]> =
  operations[Op]["responses"][S] extends { content: { "application/json": infer T } } ? T : never;

/** A problem answer (RFC 9457); retryAfter is Retry-After in seconds, when sent. */
export class BatonError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
    readonly retryAfter: number | null,
  ) {
    super(`${problem.code}: ${problem.detail ?? problem.title}`);
  }
}

export class Baton {
  constructor(
    private readonly server: string,
    private readonly key: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(this.server + path, {
      method,
      headers: {
        Authorization: `Bearer ${this.key}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      const retry = res.headers.get("Retry-After");
      throw new BatonError(res.status, (await res.json()) as Problem, retry === null ? null : Number(retry));
    }
    return { status: res.status, body: (await res.json()) as T };
  }

  /** POST /v1/tasks: 201 a new task, 200 the task an earlier submit with this key made. */
  async submit(body: SubmitBody, idempotencyKey?: string): Promise<{ task: Task; replayed: boolean }> {
    const r = await this.call<Body<"tasks.submit", 201 | 200>>("POST", "/v1/tasks", body,
      idempotencyKey === undefined ? {} : { "Idempotency-Key": idempotencyKey });
    return { task: r.body, replayed: r.status === 200 };
  }

  async get(id: string): Promise<Body<"tasks.get", 200>> {
    return (await this.call<Body<"tasks.get", 200>>("GET", `/v1/tasks/${encodeURIComponent(id)}`)).body;
  }

  async cancel(id: string): Promise<Body<"tasks.cancel", 200>> {
    return (await this.call<Body<"tasks.cancel", 200>>("POST", `/v1/tasks/${encodeURIComponent(id)}/cancel`)).body;
  }

  /** Every task matching query, newest first, following next_cursor. */
  async *tasks(query: Omit<ListQuery, "cursor"> = {}): AsyncGenerator<Task> {
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
      }
      if (cursor !== null) q.set("cursor", cursor);
      const page: Body<"tasks.list", 200> = (await this.call<Body<"tasks.list", 200>>("GET", `/v1/tasks?${q}`)).body;
      yield* page.data;
      cursor = page.next_cursor;
    } while (cursor !== null);
  }

  async usage(granularity: UsageQuery["granularity"] = "day"): Promise<Body<"usage.series", 200>> {
    return (await this.call<Body<"usage.series", 200>>("GET", `/v1/usage?granularity=${granularity}`)).body;
  }
}

/** Whether a task has ended; the switch is exhaustive over the document's enum. */
export function isFinal(s: TaskStatus): boolean {
  switch (s) {
    case "queued":
    case "running":
    case "waiting":
      return false;
    case "succeeded":
    case "failed":
    case "cancelled":
    case "timed_out":
    case "terminated":
      return true;
  }
}

// Checks of the generated types: each line fails tsc when the document
// says something else.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];

export const checks = {
  // input and output are any JSON value (not number[]).
  inputIsAnyJSON: true satisfies Equals<Task["input"], unknown>,
  outputIsAnyJSON: true satisfies Equals<Task["output"], unknown>,
  // A submit's input is an object, or null.
  submitInputIsAnObject: true satisfies Equals<SubmitBody["input"], { [key: string]: unknown } | null | undefined>,
  // The fields every task has are required.
  taskRequired: true satisfies Equals<Extract<RequiredKeys<Task>, "id" | "status" | "queue" | "created_at">, "id" | "status" | "queue" | "created_at">,
  // The idempotent replay (200) is documented, as a task.
  replayIsATask: true satisfies Equals<Body<"tasks.submit", 200>, Task>,
  // Nullable fields say so.
  finishedAtNullable: true satisfies Equals<Task["finished_at"], string | null>,
  problemCodeIsAnEnum: true satisfies Equals<Extract<Problem["code"], "rate_limited">, "rate_limited">,
};

// @ts-expect-error "pending" is not a task status.
export const notAStatus: TaskStatus = "pending";
// @ts-expect-error a submit's input is an object, not an array.
export const arrayInput: SubmitBody = { input: [1, 2] };
// @ts-expect-error the submit body refuses unknown fields (additionalProperties: false).
export const unknownField: SubmitBody = { queue: "default", priorty: 1 };
