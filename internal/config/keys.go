package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlKeys knows which key of the file each line holds, so that a
// decoder's "line 12: cannot unmarshal ..." can name serve.listen.
type yamlKeys struct {
	// byLine: the keys and values on each line, in the file's order.
	byLine map[int][]yamlEntry
}

type yamlEntry struct {
	path  string // "serve.listen", "reports.to[0]"
	value string // the key's name, or the scalar value
	isKey bool
}

func indexKeys(b []byte) yamlKeys {
	k := yamlKeys{byLine: map[int][]yamlEntry{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return k
	}
	k.walk(&doc, "")
	return k
}

func (k yamlKeys) add(line int, e yamlEntry) { k.byLine[line] = append(k.byLine[line], e) }

func (k yamlKeys) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			k.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			p := key.Value
			if path != "" {
				p = path + "." + key.Value
			}
			k.add(key.Line, yamlEntry{path: p, value: key.Value, isKey: true})
			k.walk(val, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k.walk(c, path+"["+strconv.Itoa(i)+"]")
		}
	case yaml.ScalarNode:
		k.add(n.Line, yamlEntry{path: path, value: n.Value})
	case yaml.AliasNode:
		if n.Alias != nil {
			k.walk(n.Alias, path)
		}
	}
}

var (
	lineRE      = regexp.MustCompile(`^line (\d+): (.*)$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	unknownRE   = regexp.MustCompile(`^field (\S+) not found in type`)
)

// explain turns one of the decoder's messages into a problem that names
// the key and says what the key wants.
func (k yamlKeys) explain(msg string) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	rest := m[2]
	if u := unknownRE.FindStringSubmatch(rest); u != nil {
		e := k.find(line, u[1], true)
		return fmt.Sprintf("%s (line %d): unknown key", e.path, line)
	}
	if u := unmarshalRE.FindStringSubmatch(rest); u != nil {
		tag, value, into := u[1], u[2], u[3]
		// A list or mapping where a value belongs is named by its key.
		e := k.find(line, value, value == "")
		shown := map[string]string{"!!seq": "a list", "!!map": "a mapping"}[tag]
		if value != "" {
			// The decoder shortens a long value; the file has it whole.
			shown = strconv.Quote(e.value)
		}
		return fmt.Sprintf("%s (line %d): %s is not %s", e.path, line, shown, want(into))
	}
	return fmt.Sprintf("%s (line %d): %s", k.find(line, "", false).path, line, rest)
}

// find is the key on line whose key name (isKey) or value is value; the
// decoder shortens long values to their first 7 characters and "...".
func (k yamlKeys) find(line int, value string, isKey bool) yamlEntry {
	es := k.byLine[line]
	prefix, short := strings.CutSuffix(value, "...")
	for _, e := range es {
		if e.isKey != isKey {
			continue
		}
		if e.value == value || (short && strings.HasPrefix(e.value, prefix)) {
			return e
		}
	}
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].isKey == isKey || i == 0 {
			return es[i]
		}
	}
	return yamlEntry{path: "line " + strconv.Itoa(line), value: value}
}

// want says in words what a Go type of the configuration takes.
func want(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration (such as 500ms, 30s, 5m or 48h)"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a text value"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "config."), strings.HasPrefix(goType, "providers."):
		return "a mapping of keys"
	}
	return "of type " + goType
}
