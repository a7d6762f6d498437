package vmtest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// moduleOrder returns the paths of the kernel modules (.ko files under
// modDir, e.g. <assets>/lib/modules/<version>) needed to load names, each
// module after the modules it depends on, each once. Dependencies come from
// the "depends=" field of each module's .modinfo section, so no modules.dep
// (which Debian generates only at install time) is needed. Module names
// treat '-' and '_' alike, as the kernel does.
func moduleOrder(modDir string, names ...string) ([]string, error) {
	index := map[string]string{}
	err := filepath.WalkDir(filepath.Join(modDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			index[moduleKey(strings.TrimSuffix(d.Name(), ".ko"))] = p
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("modules: index %s: %w (run .ci/qemu-deps.sh)", modDir, err)
	}
	var order []string
	state := map[string]int{} // 1 = visiting, 2 = done
	var visit func(name, from string) error
	visit = func(name, from string) error {
		key := moduleKey(name)
		switch state[key] {
		case 1:
			return fmt.Errorf("modules: dependency cycle through %s", name)
		case 2:
			return nil
		}
		p, ok := index[key]
		if !ok {
			return fmt.Errorf("modules: %s (needed by %s) not found under %s: is it built in, or a different kernel?", name, from, modDir)
		}
		state[key] = 1
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, name); err != nil {
				return err
			}
		}
		state[key] = 2
		order = append(order, p)
		return nil
	}
	for _, n := range names {
		if err := visit(n, "the test"); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func moduleKey(name string) string { return strings.ReplaceAll(name, "-", "_") }

// moduleDepends reads the depends= field of a module's .modinfo section
// (NUL-separated key=value strings).
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("modules: %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("modules: read .modinfo of %s: %w", path, err)
	}
	for kv := range bytes.SplitSeq(data, []byte{0}) {
		v, ok := bytes.CutPrefix(kv, []byte("depends="))
		if !ok {
			continue
		}
		if len(v) == 0 {
			return nil, nil
		}
		return strings.Split(string(v), ","), nil
	}
	return nil, nil
}
