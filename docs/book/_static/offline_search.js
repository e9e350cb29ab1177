// Read from files (file://), the browser refuses the requests that fetch the text snippets of
// search results: show the results without snippets there. Served over http they show.
if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") {
  DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
}
