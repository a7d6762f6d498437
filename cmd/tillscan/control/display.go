package control

import (
	"embed"
	"io/fs"
	"net/http"
)

// The counter display (GET /display): a full-screen page for a second
// screen or a kiosk facing the customer, showing the last scan's result
// live from the event stream. Its files are embedded: a till may have no
// internet, and a page that loads nothing from elsewhere cannot leak.

//go:embed display
var displayFiles embed.FS

// displayCSP allows the page its own files and its own API only.
const displayCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) routeDisplay(mux *http.ServeMux) {
	sub, _ := fs.Sub(displayFiles, "display") // the directory is embedded above
	files := http.StripPrefix("/display/", http.FileServerFS(sub))
	mux.HandleFunc("GET /display", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", displayCSP)
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.HandleFunc("GET /display/{file}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", displayCSP)
		files.ServeHTTP(w, r)
	})
}
