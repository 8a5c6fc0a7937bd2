// Starts Swagger UI on /docs from a file (the Content-Security-Policy allows no inline script).
// Requests carry the session cookie; state-changing ones also need the session's CSRF token.
(function () {
  "use strict";
  function start() {
    var holder = document.getElementById("swagger-ui");
    if (!holder || typeof SwaggerUIBundle === "undefined") { return; }
    var csrf = holder.getAttribute("data-csrf-token");
    SwaggerUIBundle({
      url: holder.getAttribute("data-openapi-url"),
      dom_id: "#swagger-ui",
      deepLinking: true,
      requestInterceptor: function (request) {
        if (csrf && request.method && request.method.toUpperCase() !== "GET") {
          request.headers["X-CSRF-Token"] = csrf;
        }
        return request;
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
