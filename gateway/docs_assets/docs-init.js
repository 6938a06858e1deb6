// Starts Swagger UI on the gateway's docs page. A file rather than an inline script, so the page's
// Content-Security-Policy can forbid inline scripts; the document's URL comes from the page itself.
"use strict";

window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    filter: true,
    // The default would load a badge from an outside validator: nothing leaves the gateway.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
