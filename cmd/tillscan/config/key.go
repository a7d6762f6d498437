package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// APIKey finds the API key: the TILLSCAN_API_KEY environment variable, then
// the systemd credential $CREDENTIALS_DIRECTORY/api-key, then api.key_file.
// getenv is os.Getenv outside tests. The error never contains the key.
func (c *Config) APIKey(getenv func(string) string) (key, source string, err error) {
	if k := strings.TrimSpace(getenv("TILLSCAN_API_KEY")); k != "" {
		return k, "TILLSCAN_API_KEY", nil
	}
	var tried []string
	if dir := getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		p := filepath.Join(dir, "api-key")
		k, err := readKey(p)
		if err == nil {
			return k, "credential api-key", nil
		}
		tried = append(tried, err.Error())
	}
	if c.API.KeyFile != "" {
		k, err := readKey(c.API.KeyFile)
		if err == nil {
			return k, c.API.KeyFile, nil
		}
		tried = append(tried, err.Error())
	}
	if len(tried) == 0 {
		return "", "", fmt.Errorf("%w: set api.key_file in the config (a file holding only the key, mode 0600), or TILLSCAN_API_KEY", ErrNoKey)
	}
	return "", "", fmt.Errorf("%w: %s", ErrNoKey, strings.Join(tried, "; "))
}

func readKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("api key file: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if k == "" {
		return "", fmt.Errorf("api key file %s is empty", path)
	}
	if strings.ContainsAny(k, "\r\n\t ") {
		return "", fmt.Errorf("api key file %s holds more than one word: it must hold only the key", path)
	}
	return k, nil
}
