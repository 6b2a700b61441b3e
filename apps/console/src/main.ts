// The operator console: sign-in, then the pages (Now, a user, a call, Integrations) by hash
// route, inside one shell with the navigation and the Find box.
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { ConsoleApp } from "./console-app.js";

const root = document.getElementById("app");
if (root) void new ConsoleApp(root).start();
