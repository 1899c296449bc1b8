/**
 * A decoder's logits for the last position only, for graphs exported without `num_logits_to_keep`.
 *
 * Generating reads one row of logits per sequence, the last; a plain export (`torch.onnx.export`, dynamo or not)
 * projects every prompt position onto the vocabulary all the same: on a 128-token prompt with SmolLM2-135M's shape
 * that is a 128 × 576 × 49,152 MatMul and a 25 MB output onnxruntime allocates and node copies, for one row used.
 * This edit, applied while `mapped_weights.ts` walks the graph, puts a `Slice` of the last position before the
 * projection that produces the logits (a float `MatMul`), so `logits` comes out `[batch, 1, vocab]`: the same numbers
 * for that position, bit for bit, which is what optimum's `num_logits_to_keep` input does when an export has it. A
 * graph whose logits come from anything else (a 4-bit `MatMulNBits`, an `If`) is left as it is.
 *
 * @module
 */
import { type GraphEdit, int64Initializer, nodeBytes, simpleNode, type WalkedNode } from "./mapped_weights.ts";

const PREFIX = "gpux_last_position";
/**
 * Only `MatMul`: onnxruntime's float GEMM gives each row the same sums whatever the number of rows (the tests check it
 * bit for bit, on one thread and two), where its 4-bit `MatMulNBits` takes another path for a single row and differs
 * in the last bit.
 */
const PROJECTIONS = new Set(["MatMul"]);

/**
 * The edit that cuts `output` (default `logits`) to its last position.
 *
 * @example
 * ```ts
 * import { graphWithMappedWeights } from "./mapped_weights.ts";
 * import { lastPositionLogits } from "./last_position_logits.ts";
 * const graph = await graphWithMappedWeights("onnx/model.onnx", { edit: lastPositionLogits() });
 * console.log(graph?.edited); // true for a plain decoder export
 * ```
 */
export function lastPositionLogits(output = "logits"): GraphEdit {
  let applied = false;
  return {
    minOpset: 10, // Slice with starts/ends/axes inputs
    get applied() {
      return applied;
    },
    node(node: WalkedNode): Uint8Array[] | undefined {
      if (applied || !node.outputs.includes(output) || node.outputs[0] !== output) return undefined;
      if (!PROJECTIONS.has(node.opType) || node.inputs.length < 2) return undefined;
      if (node.domain !== "" && node.domain !== "ai.onnx" && node.domain !== "com.microsoft") return undefined;
      applied = true;
      const hidden = `${PREFIX}_hidden`;
      // hidden states [batch, sequence, hidden] → [batch, 1, hidden]: Slice(starts -1, ends INT64_MAX, axes 1)
      const slice = simpleNode(
        "Slice",
        [node.inputs[0], `${PREFIX}_starts`, `${PREFIX}_ends`, `${PREFIX}_axes`],
        [hidden],
        PREFIX,
      );
      return [slice, nodeBytes([hidden, ...node.inputs.slice(1)], node.otherFields)];
    },
    initializers(): Uint8Array[] {
      return [
        int64Initializer(`${PREFIX}_starts`, [1], [-1n]),
        int64Initializer(`${PREFIX}_ends`, [1], [9223372036854775807n]),
        int64Initializer(`${PREFIX}_axes`, [1], [1n]),
      ];
    },
  };
}
