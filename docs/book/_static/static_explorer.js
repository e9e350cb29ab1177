// The book's static explorers: each control shows the precomputed picture of its position.
// "single" mode: moving one control puts the others back at their start (only those pictures exist);
// "grid" mode: every combination exists. Pictures are local files, preloaded after the page loads.
(() => {
  const setUp = (root) => {
    const spec = JSON.parse(root.querySelector("script[type='application/json']").textContent);
    const image = root.querySelector("img");
    const inputs = [...root.querySelectorAll("[data-control]")];
    const outputs = inputs.map((input) => input.parentElement.querySelector("output"));
    const start = spec.controls.map((control) => control.start);
    const show = (moved) => {
      inputs.forEach((input, k) => {
        if (spec.mode === "single" && k !== moved) input.value = String(start[k]);
        if (outputs[k]) outputs[k].textContent = spec.controls[k].labels[Number(input.value)];
      });
      const key = inputs.map((input) => input.value).join(",");
      image.src = spec.base + spec.frames[key];
      image.dataset.position = key;
    };
    inputs.forEach((input, k) => input.addEventListener("input", () => show(k)));
    window.addEventListener("load", () => {
      new Set(Object.values(spec.frames)).forEach((file) => { new Image().src = spec.base + file; });
    });
  };
  const run = () => document.querySelectorAll(".course-explorer").forEach(setUp);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run); else run();
})();
