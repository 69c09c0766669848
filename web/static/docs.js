// Starts Swagger UI on /docs (a file, since the Content-Security-Policy allows no inline script).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const container = document.getElementById("swagger-ui-container");
  const config = {
    url: container.dataset.specUrl,
    dom_id: "#swagger-ui-container",
    ...JSON.parse(container.dataset.config || "{}"),
  };
  window.ui = SwaggerUIBundle(config);
});
