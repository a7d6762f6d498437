package main

import (
	"context"
	"fmt"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
)

// reloadLoop applies a changed config on each SIGHUP (systemctl reload).
func (d *daemon) reloadLoop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.opt.Reload:
		}
		if d.opt.Notify {
			sddaemon.SdNotify(false, sddaemon.SdNotifyReloading+"\n"+sddaemon.SdNotifyMonotonicUsec())
		}
		if err := d.reload(); err != nil {
			d.log.Error().Err(err).Str("config", d.opt.ConfigPath).Msg("reload failed: still running with the previous config")
		}
		if d.opt.Notify {
			sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
		}
	}
}

// reload re-reads the config file and swaps in what a reload applies (the
// rules, the API key, the log level: see config.NeedsRestart) and names
// the changed settings that wait for a restart. Giving the client the key
// again, even the same one, ends a key-refused stop: the owner may have
// re-enabled the key on the vendor's side.
func (d *daemon) reload() error {
	cfg, err := config.Load(d.opt.ConfigPath)
	if err != nil {
		return err
	}
	rules, err := buildRules(cfg)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	key, err := cfg.APIKey(d.opt.Env)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		return fmt.Errorf("config: log.level %q: %w", cfg.Log.Level, err)
	}
	d.rules.Store(&rules) // the worker reads it at its next job
	wasRefused := d.api.Status().Refused != nil
	d.api.SetAPIKey(key.Key)
	if key.Key != d.apiKey {
		d.apiKey = key.Key
		d.log.Info().Str("key_from", key.Source).Msg("API key changed")
	}
	for _, w := range append(cfg.Warnings(), key.Warnings...) {
		d.log.Warn().Msg(w)
	}
	d.worker.Wake()
	if wasRefused {
		if st := d.api.Status(); st.Refused == nil {
			d.log.Info().Msg("sending resumed: the API key will be tried again with the next job")
		} else {
			d.log.Error().Str("reason", st.Refused.Error()).Msg("sending still stopped: the API key cannot be used")
		}
	}
	zerolog.SetGlobalLevel(lvl)
	ev := d.log.Info()
	if restart := cfg.NeedsRestart(d.cfg); len(restart) > 0 {
		ev = d.log.Warn().Strs("needs_restart", restart)
	}
	ev.Msg("config reloaded: rules, API key and log level applied")
	return nil
}
