package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// The demo's beneficiaries of card collections (Bank 131, Smart Glocal
// rows without a card token) do over HTTP what a person does in a
// browser: open the link, type a card into the provider's widget (the
// sandbox's stand-in: POST /widget/tokenize, which the widget's own form
// posts from its iframe), and send the page the hashes the widget gives.

var (
	pagePublicToken = regexp.MustCompile(`data-public-token="([^"]+)"`)
	pageCSRF        = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	pageOutcome     = regexp.MustCompile(`data-outcome="([^"]+)"`)
	pageLast4       = regexp.MustCompile(`data-last4="([^"]+)"`)
	pageWidget      = regexp.MustCompile(`<script src="([^"]+)/widget/tokenize\.js"`)
)

// giveCard plays one beneficiary on a card collection link and returns
// what the page said after the post ("received", or why not) and the
// card's last four digits it showed.
func giveCard(ctx context.Context, link, pan string) (outcome, last4 string, err error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	page, _, err := fetch(ctx, client, http.MethodGet, link, "", nil)
	if err != nil {
		return "", "", err
	}
	tok, csrf, widget := firstMatch(pagePublicToken, page), firstMatch(pageCSRF, page), firstMatch(pageWidget, page)
	if tok == "" || csrf == "" || widget == "" {
		return firstMatch(pageOutcome, page), "", nil // expired, used or paid: the page says which
	}
	in, _ := json.Marshal(map[string]string{"public_token": tok, "number": pan, "expiration_date": "12/39",
		"cardholder_name": "DEMO BENEFICIARY", "security_code": "123"})
	body, code, err := fetch(ctx, client, http.MethodPost, widget+"/widget/tokenize", "application/json", strings.NewReader(string(in)))
	if err != nil {
		return "", "", err
	}
	var w struct {
		Card map[string]string `json:"card"`
	}
	if err := json.Unmarshal([]byte(body), &w); err != nil || code != http.StatusOK {
		return "", "", fmt.Errorf("the widget refused the card (HTTP %d)", code)
	}
	form := url.Values{"csrf": {csrf}}
	for k, v := range w.Card {
		form.Set(k, v)
	}
	u, _ := url.Parse(link)
	out, _, err := fetch(ctx, client, http.MethodPost, link, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()),
		"Origin", u.Scheme+"://"+u.Host)
	if err != nil {
		return "", "", err
	}
	return firstMatch(pageOutcome, out), firstMatch(pageLast4, out), nil
}

func fetch(ctx context.Context, c *http.Client, method, target, ctype string, body io.Reader, header ...string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return "", 0, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), resp.StatusCode, err
}

func firstMatch(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}
