package output

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// yamlNode reads the next JSON value from dec (which must use UseNumber)
// and returns it as a YAML node, keeping the order of object members and
// the exact text of numbers.
func yamlNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				val, err := yamlNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, scalar("!!str", key.(string)), val)
			}
			if len(n.Content) == 0 {
				n.Style = yaml.FlowStyle // {}
			}
			_, err := dec.Token() // '}'
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				val, err := yamlNode(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, val)
			}
			if len(n.Content) == 0 {
				n.Style = yaml.FlowStyle // []
			}
			_, err := dec.Token() // ']'
			return n, err
		}
	case string:
		return scalar("!!str", x), nil
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return scalar("!!int", x.String()), nil
		}
		return scalar("!!float", x.String()), nil
	case bool:
		if x {
			return scalar("!!bool", "true"), nil
		}
		return scalar("!!bool", "false"), nil
	case nil:
		return scalar("!!null", "null"), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func scalar(tag, value string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
}
