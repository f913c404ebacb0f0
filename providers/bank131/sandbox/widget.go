package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The tokenization widget (excerpt 004 "Payout to a bank card via widget",
// steps 1-2; excerpt 002 "Without a token"): the merchant asks POST
// /api/v1/token {"tokenize_widget": {"access": true}} for a public token,
// initialises the provider's JavaScript widget with it on its own page,
// the recipient types the card into the widget, and the merchant's page
// receives tokenized details: hashes, never the card. The documents do not
// publish the widget's script or its JavaScript API; this stand-in behaves
// as they describe:
//
//	<script src="{base}/widget/tokenize.js"></script>
//	new TokenizationWidget({publicToken, container, onSuccess(card), onError(err)}).render()
//
// render puts an iframe from the widget's origin into container; the card
// is typed and posted there, so it never reaches the merchant's page or
// server. The iframe hands the page
// {"type": "tokenized", "card": {"number_hash", "expiration_date_hash",
// "cardholder_name_hash", "security_code_hash"}} by postMessage, to the
// page's origin only. POST /widget/tokenize does the same over HTTP with
// JSON, for programs playing the recipient (tests, the demo).
//
// A public token opens the widget until it expires (Options.
// WidgetTokenLifetime, sandbox time); the hashes are what
// session/start/payout and token/info take, and token/info answers their
// last four digits.

// WidgetScriptPath is where the widget's script is served.
const WidgetScriptPath = "/widget/tokenize.js"

type publicToken struct {
	expires time.Time
	cards   int // cards tokenized with it
}

// widgetCard is what the widget hands the page: the encrypted_card object
// of session/start/payout.
type widgetCard struct {
	NumberHash         string `json:"number_hash"`
	ExpirationDateHash string `json:"expiration_date_hash"`
	CardholderNameHash string `json:"cardholder_name_hash"`
	SecurityCodeHash   string `json:"security_code_hash"`
}

// tokenReq is POST /token's body.
type tokenReq struct {
	TokenizeWidget *struct {
		Access bool `json:"access"`
	} `json:"tokenize_widget"`
	AcquiringWidget    json.RawMessage `json:"acquiring_widget"`
	SelfEmployedWidget json.RawMessage `json:"self_employed_widget"`
}

// issueToken is POST /api/v1/token: a public token for the tokenization
// widget. The other widget kinds of the API (acquiring, self-employed) are
// not served here.
func (s *Sandbox) issueToken(r *http.Request, body []byte) (int, any, bool) {
	var req tokenReq
	if !decode(body, &req) {
		return bad("invalid_request", "body is not valid JSON")
	}
	if len(req.AcquiringWidget) > 0 || len(req.SelfEmployedWidget) > 0 {
		return bad("validation_error", "only tokenize_widget is served by this sandbox")
	}
	if req.TokenizeWidget == nil {
		return bad("validation_error", "at least one widget object is required (tokenize_widget)")
	}
	if !req.TokenizeWidget.Access {
		return bad("validation_error", "tokenize_widget.access must be true")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idempotent(r, func() (int, any, bool) {
		var b [24]byte
		_, _ = rand.Read(b[:])
		tok := hex.EncodeToString(b[:])
		s.publicTokens[tok] = &publicToken{expires: s.kit.Clock.Now().Add(s.widgetLifetime)}
		return http.StatusOK, okJSON{Status: "ok", PublicToken: tok}, false
	})
}

// PublicTokens counts the public tokens issued, for tests.
func (s *Sandbox) PublicTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.publicTokens)
}

// checkPublicToken says why a public token cannot open the widget ("" when
// it can). Callers hold s.mu.
func (s *Sandbox) checkPublicToken(tok string) string {
	pt := s.publicTokens[tok]
	switch {
	case pt == nil:
		return "unknown public token"
	case !s.kit.Clock.Now().Before(pt.expires):
		return "public token expired"
	}
	return ""
}

// cardInput is what the recipient types into the widget.
type cardInput struct {
	PublicToken    string `json:"public_token"`
	Number         string `json:"number"`
	ExpirationDate string `json:"expiration_date"` // MM/YY
	CardholderName string `json:"cardholder_name"`
	SecurityCode   string `json:"security_code"`
}

// tokenize checks a card typed into the widget and returns its hashes.
// The card number is used for the last four digits and forgotten; the
// error is a message for the recipient and a code for the page.
func (s *Sandbox) tokenize(in cardInput) (widgetCard, string, string) {
	number := strings.ReplaceAll(strings.ReplaceAll(in.Number, " ", ""), "-", "")
	exp := strings.ReplaceAll(in.ExpirationDate, " ", "")
	holder := strings.Join(strings.Fields(in.CardholderName), " ")
	cvc := strings.TrimSpace(in.SecurityCode)
	s.mu.Lock()
	defer s.mu.Unlock()
	if why := s.checkPublicToken(in.PublicToken); why != "" {
		return widgetCard{}, "token_invalid", "This card form has expired or is not valid any more (" + why + ")."
	}
	if !luhn(number) {
		return widgetCard{}, "invalid_card", "The card number is not valid."
	}
	if !s.validExpiry(exp) {
		return widgetCard{}, "invalid_expiry", "The expiry date must be MM/YY and not in the past."
	}
	if holder == "" {
		return widgetCard{}, "invalid_holder", "The cardholder's name is required."
	}
	if (len(cvc) != 3 && len(cvc) != 4) || strings.Trim(cvc, "0123456789") != "" {
		return widgetCard{}, "invalid_cvc", "The security code has 3 or 4 digits."
	}
	hash := func(kind, v string) string {
		sum := sha256.Sum256([]byte(s.creds.Project + ":" + kind + v))
		return hex.EncodeToString(sum[:])
	}
	c := widgetCard{
		NumberHash:         hash("", number),
		ExpirationDateHash: hash("expiry:", exp),
		CardholderNameHash: hash("holder:", strings.ToUpper(holder)),
		SecurityCodeHash:   hash("cvc:", cvc),
	}
	s.tokens[c.NumberHash] = token{last4: number[len(number)-4:], brand: brandOf(number)}
	s.publicTokens[in.PublicToken].cards++
	return c, "", ""
}

// validExpiry accepts MM/YY not before this month (sandbox clock).
func (s *Sandbox) validExpiry(exp string) bool {
	if len(exp) != 5 || exp[2] != '/' {
		return false
	}
	t, err := time.Parse("01/06", exp)
	if err != nil {
		return false
	}
	now := s.kit.Clock.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return !t.Before(thisMonth)
}

func (s *Sandbox) widgetHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+WidgetScriptPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(widgetScript))
	})
	mux.HandleFunc("GET /widget/form", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		origin, ok := pageOrigin(q.Get("origin"))
		if !ok {
			http.Error(w, "origin must be the page's origin (scheme://host[:port])", http.StatusBadRequest)
			return
		}
		tok := q.Get("public_token")
		s.mu.Lock()
		why := s.checkPublicToken(tok)
		s.mu.Unlock()
		v := formView{PublicToken: tok, Origin: origin}
		if why != "" {
			v.Message, v.Failed = "This card form has expired or is not valid any more.", true
			v.Result = resultJSON(map[string]any{"type": "error", "error": map[string]string{"code": "token_invalid", "description": why}})
		}
		writeWidgetPage(w, v)
	})
	mux.HandleFunc("POST /widget/form", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<14)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		origin, ok := pageOrigin(r.PostForm.Get("origin"))
		if !ok {
			http.Error(w, "origin must be the page's origin (scheme://host[:port])", http.StatusBadRequest)
			return
		}
		in := cardInput{PublicToken: r.PostForm.Get("public_token"), Number: r.PostForm.Get("number"),
			ExpirationDate: r.PostForm.Get("expiration_date"), CardholderName: r.PostForm.Get("cardholder_name"),
			SecurityCode: r.PostForm.Get("security_code")}
		card, code, msg := s.tokenize(in)
		v := formView{PublicToken: in.PublicToken, Origin: origin}
		switch {
		case code == "token_invalid":
			v.Message, v.Failed = msg, true
			v.Result = resultJSON(map[string]any{"type": "error", "error": map[string]string{"code": code, "description": msg}})
		case code != "":
			v.Message = msg // typed again in the same form
		default:
			v.Done = true
			v.Result = resultJSON(map[string]any{"type": "tokenized", "card": card})
		}
		writeWidgetPage(w, v)
	})
	mux.HandleFunc("POST /widget/tokenize", func(w http.ResponseWriter, r *http.Request) {
		var in cardInput
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<14)).Decode(&in); err != nil {
			writeJSON(w, http.StatusBadRequest, errAnswer("invalid_request", "body must be JSON"))
			return
		}
		card, code, msg := s.tokenize(in)
		if code != "" {
			writeJSON(w, http.StatusBadRequest, errAnswer(code, msg))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "card": card})
	})
	return mux
}

// pageOrigin accepts an origin (scheme://host[:port], nothing more): the
// only window the widget hands card hashes to.
func pageOrigin(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false
	}
	return u.Scheme + "://" + u.Host, true
}

func resultJSON(v any) template.JS {
	b, _ := json.Marshal(v) // escapes <, > and &: safe inside a script
	return template.JS(b)
}

type formView struct {
	PublicToken, Origin string
	Message             string
	Failed, Done        bool
	Result              template.JS
}

func writeWidgetPage(w http.ResponseWriter, v formView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_ = widgetPage.Execute(w, v)
}

var widgetPage = template.Must(template.New("widget").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Card details</title>
<style>body{font:14px system-ui,sans-serif;margin:.5rem}label{display:block;margin:.3rem 0}input{font:inherit;padding:.2rem;width:14rem}.msg{color:#a40000}</style>
</head><body data-widget="sandbox">
{{- if .Done}}
<p id="widget-done">Card details sent securely.</p>
{{- else if .Failed}}
<p class="msg" id="widget-error">{{.Message}}</p>
{{- else}}
<form method="post" action="/widget/form" id="widget-form" autocomplete="off">
{{- if .Message}}<p class="msg" id="widget-error">{{.Message}}</p>{{end}}
<input type="hidden" name="public_token" value="{{.PublicToken}}">
<input type="hidden" name="origin" value="{{.Origin}}">
<label>Card number <input id="card-number" name="number" inputmode="numeric" autocomplete="cc-number"></label>
<label>Expiry (MM/YY) <input id="card-expiry" name="expiration_date" autocomplete="cc-exp"></label>
<label>Name on card <input id="card-holder" name="cardholder_name" autocomplete="cc-name"></label>
<label>Security code <input id="card-cvc" name="security_code" inputmode="numeric" autocomplete="cc-csc"></label>
<button type="submit" id="card-submit">Use this card</button>
</form>
{{- end}}
{{- if .Result}}
<script>parent.postMessage({{.Result}}, {{.Origin}});</script>
{{- end}}
</body></html>
`))

// widgetScript is the widget's JavaScript API (see the package comment
// of this file): an iframe from the widget's own origin, and the
// iframe's messages, from that origin only, handed to the page.
const widgetScript = `(function () {
  "use strict";
  var base = new URL(document.currentScript.src).origin;
  function TokenizationWidget(options) {
    if (!options || !options.publicToken || !options.container) {
      throw new Error("TokenizationWidget: publicToken and container are required");
    }
    this.options = options;
  }
  TokenizationWidget.prototype.render = function () {
    var o = this.options;
    var frame = document.createElement("iframe");
    frame.src = base + "/widget/form?public_token=" + encodeURIComponent(o.publicToken) +
      "&origin=" + encodeURIComponent(window.location.origin);
    frame.title = "Card details";
    frame.id = "tokenization-widget";
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.height = "16rem";
    window.addEventListener("message", function (ev) {
      if (ev.origin !== base || ev.source !== frame.contentWindow) { return; }
      var d = ev.data || {};
      if (d.type === "tokenized" && o.onSuccess) { o.onSuccess(d.card); }
      if (d.type === "error" && o.onError) { o.onError(d.error); }
    });
    o.container.appendChild(frame);
  };
  window.TokenizationWidget = TokenizationWidget;
})();
`
