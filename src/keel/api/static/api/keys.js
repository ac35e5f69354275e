// Copy button for a newly created API key. A static file rather than inline script so
// the page works under a Content-Security-Policy without 'unsafe-inline'.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copyTarget);
  const status = document.querySelector("[data-copy-status]");
  let copied = false;
  try {
    // The async clipboard needs a secure context (HTTPS or localhost).
    await navigator.clipboard.writeText(input.value);
    copied = true;
  } catch {
    input.select();
    copied = document.execCommand("copy");
  }
  if (status) {
    status.textContent = copied
      ? "Copied. Paste it where your program keeps its secrets."
      : "Could not copy automatically: the key is selected, press Ctrl+C (or ⌘C).";
  }
  if (copied) button.textContent = "Copied";
});
