/** Dashboard entry point: defines the elements; `<hiq-app>` in index.html takes it from there. */
import "./theme.css";
import "./components/hiq-app.ts";
