const ort = await import("onnxruntime-node");
const th = Deno.args[1] ? { intraOpNumThreads: Number(Deno.args[1]) } : {};
const s = await ort.InferenceSession.create(Deno.args[0], { ...th });
const x = new ort.Tensor("float32", new Float32Array(3 * 48 * 192).map(() => Math.random()), [1, 3, 48, 192]);
for (let i = 0; i < 20; i++) await s.run({ x });
const t: number[] = [];
for (let i = 0; i < 300; i++) {
  const a = performance.now();
  await s.run({ x });
  t.push(performance.now() - a);
}
t.sort((a, b) => a - b);
console.log("node", Deno.args.slice(1), t[150].toFixed(3));
