// Entry of the demo page.
import "./styles.css";
import { DemoApp } from "./demo-app.js";

const root = document.getElementById("app");
if (!root) throw new Error("the page has no #app element");
void new DemoApp(root).start();
