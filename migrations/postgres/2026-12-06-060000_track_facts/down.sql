DROP TABLE track_facts;
