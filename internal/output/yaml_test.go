package output

import (
	"testing"

	"gopkg.in/yaml.v3"
)

func TestYAMLRoundTripsScalars(t *testing.T) {
	in := map[string]any{
		"num_string": "123", "bool_string": "true", "yes": "yes", "null_string": "null",
		"empty": "", "big": int64(9007199254740993), "float": 0.5, "neg": -2,
		"t": true, "nil": nil, "empty_map": map[string]any{}, "empty_list": []any{},
		"colon": "a: b", "hash": "# c",
	}
	b, err := encodeYAML(in)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	want := map[string]any{
		"num_string": "123", "bool_string": "true", "yes": "yes", "null_string": "null",
		"empty": "", "big": 9007199254740993, "float": 0.5, "neg": -2,
		"t": true, "nil": nil, "empty_map": map[string]any{}, "empty_list": []any{},
		"colon": "a: b", "hash": "# c",
	}
	for k, w := range want {
		g := got[k]
		switch w := w.(type) {
		case map[string]any:
			if m, ok := g.(map[string]any); !ok || len(m) != 0 {
				t.Errorf("%s = %#v, want {}", k, g)
			}
		case []any:
			if l, ok := g.([]any); !ok || len(l) != 0 {
				t.Errorf("%s = %#v, want []", k, g)
			}
		default:
			if g != w {
				t.Errorf("%s = %#v (%T), want %#v (%T)\n%s", k, g, g, w, w, b)
			}
		}
	}
}
