DROP TABLE provider_pauses;
