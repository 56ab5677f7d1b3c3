// yaml2json reads a YAML stream (several documents separated by "---", as
// `kustomize build` prints them, or a CRD file) from the files named on the
// command line, or from stdin, and prints one JSON array of its non-empty
// documents. It is how the Node checks read YAML without a YAML package.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

func split(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1024*1024), 64*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	docs = append(docs, cur.Bytes())
	return docs
}

func convert(name string, data []byte, out *[]json.RawMessage) error {
	for i, doc := range split(data) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		if string(j) == "null" {
			continue // a document of comments only
		}
		*out = append(*out, j)
	}
	return nil
}

func main() {
	docs := []json.RawMessage{}
	if len(os.Args) < 2 {
		data, err := io.ReadAll(os.Stdin)
		if err == nil {
			err = convert("stdin", data, &docs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "yaml2json:", err)
			os.Exit(1)
		}
	}
	for _, f := range os.Args[1:] {
		data, err := os.ReadFile(f)
		if err == nil {
			err = convert(f, data, &docs)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "yaml2json:", err)
			os.Exit(1)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(docs); err != nil {
		fmt.Fprintln(os.Stderr, "yaml2json:", err)
		os.Exit(1)
	}
}
