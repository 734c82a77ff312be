// Progressive enhancement: pay through the API, one request at a time.
(function () {
  var form = document.getElementById("payment-form");
  if (!form || !window.fetch) { return; }
  var button = document.getElementById("pay-button");
  var errorBox = document.getElementById("payment-error");
  var label = button.textContent;
  var orderId = form.dataset.orderId;
  var stripe = null, elements = null;
  if (form.dataset.provider === "stripe") {
    if (!window.Stripe) { showError("Stripe could not be loaded; reload the page."); return; }
    stripe = window.Stripe(form.dataset.publishableKey);
    elements = stripe.elements({mode: "payment", amount: Number(form.dataset.amountCents),
      currency: "usd", paymentMethodCreation: "manual", paymentMethodTypes: ["card"]});
    elements.create("payment").mount("#payment-element");
  }
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
    button.textContent = label;
  }
  function send(token) {
    return fetch("/api/payments", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({orderId: orderId, token: token})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return {status: response.status, body: body};
      });
    });
  }
  function firstMessage(body) {
    return (body && body.errors && body.errors[0] && body.errors[0].message) ||
      "The payment failed; please try again.";
  }
  async function tokenFor() {
    if (!stripe) { return form.elements.token.value.trim(); }
    var submitted = await elements.submit();
    if (submitted.error) { throw new Error(submitted.error.message); }
    var created = await stripe.createPaymentMethod({elements: elements});
    if (created.error) { throw new Error(created.error.message); }
    return created.paymentMethod.id;
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (button.disabled) { return; }
    button.disabled = true;
    button.textContent = "Paying…";
    errorBox.hidden = true;
    try {
      var token = await tokenFor();
      var answer = await send(token);
      if (answer.status === 202 && stripe && answer.body.clientSecret) {
        var confirmed = await stripe.handleNextAction({clientSecret: answer.body.clientSecret});
        if (confirmed.error) { return showError(confirmed.error.message); }
        answer = await send(token);
      }
      // 202 "processing": the bank holds the money and the order is being confirmed.
      var paid = answer.status === 201 ||
        (answer.status === 202 && answer.body.status === "processing") ||
        (answer.status === 400 && firstMessage(answer.body) === form.dataset.paidMessage);
      if (!paid) { return showError(firstMessage(answer.body)); }
      // The payment's consistency cookie makes My Orders wait until orders applied it.
      window.location.assign("/orders");
    } catch (error) {
      showError(error && error.message ? error.message : "The payment failed; please try again.");
    }
  });
})();
