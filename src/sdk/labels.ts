/** The label every task a controller submits carries: the controller run key. */
export const SDK_RUN_LABEL = "baton.sdk/run";
