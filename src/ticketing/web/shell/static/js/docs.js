// The /docs page: Swagger UI over this server's /openapi.json (no inline script: CSP).
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    deepLinking: true,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
    showExtensions: true,
    showCommonExtensions: true,
    url: root.dataset.openapiUrl
  });
})();
