/**
 * The task handlers gpux ships, one per task. Adding a task: write its handler in its own file and
 * list it here.
 *
 * @module
 */
import type { TaskHandler } from "./pipeline.ts";

/** Every registered handler (unknown tasks run on tensors only). */
// deno-lint-ignore no-explicit-any
export const TASK_HANDLERS: readonly TaskHandler<any>[] = [];
