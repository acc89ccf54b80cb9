import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { takeTokenFromUrl } from "./api/client";
import { App } from "./app";
import { FeedbackProvider } from "./components/feedback";
import "./styles.css";

takeTokenFromUrl();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <FeedbackProvider>
      <App />
    </FeedbackProvider>
  </StrictMode>,
);
