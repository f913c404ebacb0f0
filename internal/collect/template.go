package collect

import "html/template"

// pageStyle and pageScript are inline and allowed by their hashes in the
// page's Content-Security-Policy: nothing else can style the page or run
// on it but the widget's script, from the widget's origin.
const pageStyle = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d2433;background:#f7f8fa}
main{max-width:34rem;margin:2rem auto;background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:1.2rem 1.5rem}
h1{font-size:1.3rem;margin:0 0 .6rem}.amount{font-size:1.6rem;font-weight:600;margin:.2rem 0 .8rem}
.meta{color:#5b6475;font-size:.9rem}.msg{color:#a40000}#widget{margin:1rem 0;min-height:16rem}
`

const pageScript = `(function () {
  "use strict";
  var root = document.getElementById("collect");
  if (!root) { return; }
  var form = document.getElementById("card-form");
  var problem = document.getElementById("widget-problem");
  function say(text) { problem.textContent = text; problem.hidden = false; }
  if (!window.TokenizationWidget) {
    say("The payment provider's card form could not be loaded. Check your connection and reload the page.");
    return;
  }
  new window.TokenizationWidget({
    publicToken: root.getAttribute("data-public-token"),
    container: document.getElementById("widget"),
    onSuccess: function (card) {
      ["number_hash", "expiration_date_hash", "cardholder_name_hash", "security_code_hash"].forEach(function (k) {
        form.elements[k].value = (card && card[k]) || "";
      });
      root.setAttribute("data-state", "sending");
      form.submit();
    },
    onError: function (err) {
      say("The card form cannot be used: " + ((err && err.description) || "unknown problem") + ". Reload the page to try again.");
    }
  }).render();
  root.setAttribute("data-state", "ready");
})();`

var pageTemplate = template.Must(template.New("collect").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{if .Amount}}{{.Payer}}: {{.Amount}} {{.Currency}}{{else}}Payment link{{end}}</title>
<style>{{.Style}}</style>
</head>
<body>
<main data-outcome="{{.Outcome}}"{{if .Last4}} data-last4="{{.Last4}}"{{end}}>
{{- if eq .Outcome "form"}}
<h1>{{.Payer}} is sending you a payment</h1>
<p class="amount" id="amount">{{.Amount}} {{.Currency}}</p>
<p>To {{.Beneficiary}} · reference {{.PayoutID}}</p>
<p>Enter the card the money should go to. The form below is the payment provider's own: {{.Payer}} never sees your card number.</p>
<div id="collect" data-public-token="{{.PublicToken}}">
<div id="widget"></div>
<p class="msg" id="widget-problem" hidden></p>
<form id="card-form" method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="number_hash"><input type="hidden" name="expiration_date_hash">
<input type="hidden" name="cardholder_name_hash"><input type="hidden" name="security_code_hash">
</form>
</div>
<p class="meta">This link works until {{.Expires}}, once.</p>
<script src="{{.WidgetURL}}"></script>
<script>{{.Script}}</script>
{{- else if eq .Outcome "received"}}
<h1>Thank you</h1>
<p>Your card ending in <strong id="last4">{{.Last4}}</strong> was received. {{.Payer}} is sending {{.Amount}} {{.Currency}} to it now.</p>
<p class="meta">Reference {{.PayoutID}}. You can close this page.</p>
{{- else if eq .Outcome "used"}}
<h1>This link was used already</h1>
<p>A card{{if .Last4}} ending in {{.Last4}}{{end}} was given for this payment of {{.Amount}} {{.Currency}}; it is on its way. Nothing was changed.</p>
{{- else if eq .Outcome "paid"}}
<h1>This payment was made already</h1>
<p>{{.Payer}} paid {{.Amount}} {{.Currency}}{{if .Last4}} to the card ending in {{.Last4}}{{end}}. Nothing was changed.</p>
{{- else if eq .Outcome "expired"}}
<h1>This link has expired</h1>
<p>It can no longer be used{{if .Amount}} for the payment of {{.Amount}} {{.Currency}}{{end}}. Nothing was changed. Contact {{.Payer}} if you still expect it.</p>
{{- else if eq .Outcome "closed"}}
<h1>This payment cannot be completed here</h1>
<p>Nothing was changed. Contact {{.Payer}} about the payment of {{.Amount}} {{.Currency}}.</p>
{{- else if eq .Outcome "retry"}}
<h1>Please try again</h1>
<p class="msg">{{.Message}}</p>
{{- else}}
<h1>This link is not valid</h1>
<p>{{if .Message}}{{.Message}} {{end}}Check that you opened the whole link from your message. Nothing was changed.</p>
{{- end}}
</main>
</body>
</html>
`))
