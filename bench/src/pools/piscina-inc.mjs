// piscina / tinypool worker for the pools bench: the tiny task, and { cpu: ms }.
export default (x) => {
  if (typeof x === "number") return x + 1
  const end = performance.now() + x.cpu
  let n = 0
  while (performance.now() < end) n++
  return n
}
